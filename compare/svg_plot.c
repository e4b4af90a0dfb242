/*
 * svg_plot: rate-distortion panels (see svg_plot.h).
 *
 * Contents: geometry (axes and their domains) - label layout (merging,
 * columns, spreading, side choice) - drawing (legend, axes, bound, points,
 * labels) - svg_plot_write.
 */
#include "svg_plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sizes in px, chosen by looking at the kv-quant-sweep figure rendered
 * with rsvg-convert (docs/compare.md): 12 px labels stay readable when the
 * PNG is shown at half size. */
#define FIG_W 1000.0
#define PAD_L 86.0
#define PAD_R 30.0
#define TITLE_H 48.0
#define LEGEND_ROW_H 22.0
#define PLOT_H 340.0
#define STRIP_GAP 12.0  /* between the plot and the exact strip */
#define STRIP_H 24.0
#define XAXIS_H 58.0
#define PANEL_GAP 18.0
#define MARK_R 5.5
#define LABEL_SIZE 12.0
#define LABEL_H 15.0    /* a label's line height: labels are this far apart */
#define LABEL_GAP 10.0  /* marker edge to label */
#define SAME_COLUMN_PX 6.0

#define C_AXIS "#444444"
#define C_GRID "#e4e4e4"
#define C_TEXT "#222222"
#define C_BOUND "#0072B2"
#define C_LEADER "#999999"

/* ---- geometry ---------------------------------------------------------------- */

typedef struct geom {
    double top, bottom;          /* the panel's extent */
    double legend_y;             /* first legend row's centre */
    double plot_top, plot_bot;   /* the log plot area */
    double strip_y;              /* centre of the exact strip; < 0: none */
    double x0, x1;               /* horizontal extent of the plot area */
    double lx0, lx1;             /* log2 domain */
    double ly0, ly1;             /* log10 domain */
} geom;

static double px_x(const geom *g, double x)
{
    return g->x0 + (log2(x) - g->lx0) / (g->lx1 - g->lx0) * (g->x1 - g->x0);
}

static double px_y(const geom *g, double y)
{
    if (y == 0)
        return g->strip_y;
    return g->plot_bot - (log10(y) - g->ly0) / (g->ly1 - g->ly0) * (g->plot_bot - g->plot_top);
}

/* The x domain shared by every panel: the points' log2 range with a third
 * of an octave either side (markers and labels stay inside), at least 1.2
 * octaves wide so one power of two always has a tick. */
static void x_domain(const svg_plot_figure *f, double *lx0, double *lx1)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t p = 0; p < f->n_panels; p++)
        for (size_t i = 0; i < f->panels[p].n_points; i++) {
            double l = log2(f->panels[p].points[i].x);
            lo = l < lo ? l : lo;
            hi = l > hi ? l : hi;
        }
    if (!(lo <= hi))
        lo = hi = 2;
    lo -= 0.35;
    hi += 0.35;
    if (hi - lo < 1.2) {
        double c = (lo + hi) / 2;
        lo = c - 0.6;
        hi = c + 0.6;
    }
    *lx0 = lo;
    *lx1 = hi;
}

/* The y domain of a panel: whole decades around its positive values. */
static void y_domain(const svg_plot_panel *p, double *ly0, double *ly1, int *has_zero)
{
    double lo = INFINITY, hi = -INFINITY;
    *has_zero = 0;
    for (size_t i = 0; i < p->n_points; i++) {
        double y = p->points[i].y;
        if (y == 0) {
            *has_zero = 1;
            continue;
        }
        double l = log10(y);
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
    }
    if (!(lo <= hi))
        lo = hi = -1;
    *ly0 = floor(lo - 0.15);
    *ly1 = ceil(hi + 0.15);
}

/* ---- legend ------------------------------------------------------------------ */

typedef struct legend_item {
    int kind;           /* 0 bound, 1 class, 2 filled, 3 hollow, 4 ring */
    size_t cls;
    const char *text;
} legend_item;

static size_t legend_items(const svg_plot_figure *f, const svg_plot_panel *p,
                           legend_item *it)
{
    size_t n = 0;
    if (p->bound)
        it[n++] = (legend_item){0, 0, "Shannon bound D(R) = 2^(-2R)"};
    for (size_t c = 0; c < f->n_classes; c++)
        it[n++] = (legend_item){1, c, f->classes[c].legend};
    if (p->filled_legend)
        it[n++] = (legend_item){2, 0, p->filled_legend};
    if (p->hollow_legend)
        it[n++] = (legend_item){3, 0, p->hollow_legend};
    int rings = 0;
    for (size_t i = 0; i < p->n_points; i++)
        rings |= p->points[i].ring;
    if (f->ring_legend && rings)
        it[n++] = (legend_item){4, 0, f->ring_legend};
    return n;
}

static double legend_item_w(const legend_item *it)
{
    return (it->kind == 0 ? 30.0 : 16.0) + 6 + svg_text_width(it->text, LABEL_SIZE) + 22;
}

/* Lay out (draw = 0: only count rows) the legend rows from y (row centre). */
static int legend_draw(FILE *out, const svg_plot_figure *f, const svg_plot_panel *p,
                       const geom *g, int draw)
{
    legend_item it[64];
    size_t n = legend_items(f, p, it);
    double x = g->x0, y = g->legend_y;
    int rows = n ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        double w = legend_item_w(&it[i]);
        if (x + w > g->x1 + PAD_R - 4 && x > g->x0) {
            x = g->x0;
            y += LEGEND_ROW_H;
            rows++;
        }
        if (draw) {
            double mx = x + 8;
            switch (it[i].kind) {
            case 0:
                svg_line(out, x, y, x + 30, y, C_BOUND, 2, "7 4");
                mx = x + 30;
                break;
            case 1:
                svg_marker(out, f->classes[it[i].cls].shape, mx, y, MARK_R,
                           f->classes[it[i].cls].color, 0);
                mx = x + 16;
                break;
            case 2:
            case 3:
                svg_marker(out, SVG_SHAPE_CIRCLE, mx, y, MARK_R, "#777777", it[i].kind == 3);
                mx = x + 16;
                break;
            default:
                svg_marker(out, SVG_SHAPE_CIRCLE, mx, y, MARK_R, "#777777", 0);
                fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"none\" "
                             "stroke=\"#222222\" stroke-width=\"1.2\"/>\n", mx, y, MARK_R + 3.5);
                mx = x + 16;
                break;
            }
            svg_text(out, mx + 6, y + 4.2, "start", LABEL_SIZE, 0, C_TEXT, 0, 0, it[i].text);
        }
        x += w;
    }
    return rows;
}

/* ---- label layout ------------------------------------------------------------ */

typedef struct mark {
    double px, py;      /* the point's position */
    double mx;          /* the marker's x after spreading coinciding ones */
    size_t label;       /* its label item */
} mark;

typedef struct label {
    char text[160];
    double ax, ay;      /* the anchor: the point's position */
    double m_lo, m_hi;  /* horizontal extent of its column's markers */
    double lx;          /* where its leader line starts: its own markers' middle */
    int own_wide;       /* its own markers are more than one apart */
    double w;           /* text width */
    double y;           /* placed centre */
    double tx;          /* placed text x (start when right, end when left) */
    int left;           /* column left of the points */
    size_t col;         /* its column (index in left-to-right order) */
} label;

typedef struct box {
    double x0, y0, x1, y1;
} box;

static int overlap(box a, box b)
{
    return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

static int cmp_label_ay(const void *a, const void *b)
{
    const label *const *x = a, *const *y = b;
    if ((*x)->ay != (*y)->ay)
        return (*x)->ay < (*y)->ay ? -1 : 1;
    return strcmp((*x)->text, (*y)->text);
}

static int cmp_label_ax(const void *a, const void *b)
{
    const label *const *x = a, *const *y = b;
    if ((*x)->ax != (*y)->ax)
        return (*x)->ax < (*y)->ax ? -1 : 1;
    return (*x)->ay < (*y)->ay ? -1 : (*x)->ay > (*y)->ay;
}

/* Spread n labels (sorted by desired centre d[]) at least LABEL_H apart
 * with the least squared movement (pool adjacent violators: a block of k
 * labels sits at the mean of its members' desired offsets), then keep them
 * inside [lo, hi]. */
static void spread(label **l, size_t n, double lo, double hi, size_t *blk_start,
                   double *blk_pos)
{
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        blk_start[nb] = i;
        blk_pos[nb] = l[i]->ay;
        nb++;
        while (nb > 1) {
            size_t k0 = blk_start[nb - 2], k1 = blk_start[nb - 1];
            double end_prev = blk_pos[nb - 2] + (double)(k1 - k0) * LABEL_H;
            if (end_prev <= blk_pos[nb - 1])
                break;
            /* merge: the block's first label sits at mean(d_k - (k - k0) h) */
            double s = 0;
            for (size_t k = k0; k <= i; k++)
                s += l[k]->ay - (double)(k - k0) * LABEL_H;
            blk_pos[nb - 2] = s / (double)(i - k0 + 1);
            nb--;
        }
    }
    for (size_t b = 0; b < nb; b++) {
        size_t end = b + 1 < nb ? blk_start[b + 1] : n;
        for (size_t k = blk_start[b]; k < end; k++)
            l[k]->y = blk_pos[b] + (double)(k - blk_start[b]) * LABEL_H;
    }
    for (size_t i = 0; i < n; i++) { /* the top edge, then the bottom edge */
        double min = i ? l[i - 1]->y + LABEL_H : lo;
        if (l[i]->y < min)
            l[i]->y = min;
    }
    for (size_t i = n; i-- > 0;) {
        double max = i + 1 < n ? l[i + 1]->y - LABEL_H : hi;
        if (l[i]->y > max)
            l[i]->y = max;
    }
}

static box label_box(const label *l, int left)
{
    double x0 = left ? l->m_lo - LABEL_GAP - l->w : l->m_hi + LABEL_GAP;
    /* 14 of the 15 px line: 12 px DejaVu Sans spans 11.6 px ascender to
     * descender, so boxes that do not meet keep glyphs apart */
    return (box){x0 - 2, l->y - LABEL_H / 2 + 0.5, x0 + l->w + 2, l->y + LABEL_H / 2 - 0.5};
}

/* Overlaps of a column placed on one side with labels already placed and
 * with markers not its own, plus a heavy cost for leaving the figure. */
static double side_cost(label **col, size_t n, int left, label **placed, size_t n_placed,
                        const mark *m, size_t n_marks, const label *base, const geom *g)
{
    double cost = 0;
    for (size_t i = 0; i < n; i++) {
        box b = label_box(col[i], left);
        if (b.x0 < g->x0 + 2 || b.x1 > FIG_W - 4)
            cost += 100;
        for (size_t k = 0; k < n_placed; k++)
            cost += overlap(b, label_box(placed[k], placed[k]->left)) ? 10 : 0;
        for (size_t k = 0; k < n_marks; k++) {
            int own = 0;
            for (size_t c = 0; c < n && !own; c++)
                own = (size_t)(col[c] - base) == m[k].label;
            box mb = {m[k].mx - MARK_R, m[k].py - MARK_R, m[k].mx + MARK_R, m[k].py + MARK_R};
            cost += !own && overlap(b, mb) ? 3 : 0;
        }
    }
    return cost;
}

/* Merge labels, spread coinciding markers, stack and place every column.
 * marks[] and labs[] have n entries; *n_labs gets the labels made. */
static kk_code layout(const svg_plot_panel *p, const geom *g, mark *mk, label *lb,
                      size_t *n_labs, kk_err *err)
{
    size_t n = p->n_points, nl = 0;
    label **order = malloc((n ? n : 1) * sizeof *order);
    label **tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t *bs = malloc((n ? n : 1) * sizeof *bs);
    size_t *grp = malloc((n ? n : 1) * sizeof *grp);
    double *bp = malloc((n ? n : 1) * sizeof *bp);
    if (!order || !tmp || !bs || !grp || !bp) {
        free(order);
        free(tmp);
        free(bs);
        free(grp);
        free(bp);
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu points", n);
    }
    for (size_t i = 0; i < n; i++) {
        const svg_plot_point *pt = &p->points[i];
        mk[i].px = mk[i].mx = px_x(g, pt->x);
        mk[i].py = px_y(g, pt->y);
        size_t j = 0;
        for (; j < nl; j++) /* one label per name and position */
            if (fabs(lb[j].ax - mk[i].px) < 1 && fabs(lb[j].ay - mk[i].py) < 1 &&
                strncmp(lb[j].text, pt->label, strlen(pt->label)) == 0 &&
                (lb[j].text[strlen(pt->label)] == '\0' || lb[j].text[strlen(pt->label)] == ' '))
                break;
        if (j == nl) {
            snprintf(lb[nl].text, sizeof lb[nl].text, "%s%s%s", pt->label, pt->tag ? " " : "",
                     pt->tag ? pt->tag : "");
            lb[nl].ax = mk[i].px;
            lb[nl].ay = mk[i].py;
            nl++;
        } else if (pt->tag) {
            size_t len = strlen(lb[j].text);
            snprintf(lb[j].text + len, sizeof lb[j].text - len, ",%s", pt->tag);
        }
        mk[i].label = j;
    }
    /* Markers of one rate that would overlap fan out sideways (a beeswarm:
     * each takes the nearest free slot 0, +d, -d, +2d, ... in order of
     * height), so every marker shows and its leader line finds it. */
    const double d = 2 * MARK_R + 2;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 64; k++) {
            double off = (k + 1) / 2 * d * (k % 2 ? 1 : -1);
            int clash = 0;
            for (size_t j = 0; j < i && !clash; j++)
                clash = fabs(mk[j].px - mk[i].px) < SAME_COLUMN_PX &&
                        fabs(mk[j].mx - (mk[i].px + off)) < d - 0.5 &&
                        fabs(mk[j].py - mk[i].py) < d - 0.5;
            if (!clash) {
                mk[i].mx = mk[i].px + off;
                break;
            }
        }
    }
    for (size_t j = 0; j < nl; j++) {
        lb[j].m_lo = INFINITY;
        lb[j].m_hi = -INFINITY;
        lb[j].w = svg_text_width(lb[j].text, LABEL_SIZE);
        order[j] = &lb[j];
    }
    for (size_t i = 0; i < n; i++) {
        label *l = &lb[mk[i].label];
        l->m_lo = fmin(l->m_lo, mk[i].mx - MARK_R);
        l->m_hi = fmax(l->m_hi, mk[i].mx + MARK_R);
    }
    for (size_t j = 0; j < nl; j++) {
        lb[j].lx = (lb[j].m_lo + lb[j].m_hi) / 2;
        lb[j].own_wide = lb[j].m_hi - lb[j].m_lo > 2 * MARK_R + 1;
    }
    /* Columns: labels whose anchors share a rate, left to right. */
    qsort(order, nl, sizeof *order, cmp_label_ax);
    double lo = g->plot_top + LABEL_H / 2;
    double hi = (g->strip_y >= 0 ? g->strip_y : g->plot_bot) + LABEL_H / 2;
    size_t placed = 0, n_cols = 0;
    for (size_t c0 = 0; c0 < nl;) {
        size_t c1 = c0 + 1;
        while (c1 < nl && order[c1]->ax - order[c0]->ax < SAME_COLUMN_PX)
            c1++;
        label **col = order + c0;
        size_t cn = c1 - c0;
        double m_lo = INFINITY, m_hi = -INFINITY;
        for (size_t k = 0; k < cn; k++) {
            m_lo = fmin(m_lo, col[k]->m_lo);
            m_hi = fmax(m_hi, col[k]->m_hi);
        }
        for (size_t k = 0; k < cn; k++) { /* one column: aligned text */
            col[k]->m_lo = m_lo;
            col[k]->m_hi = m_hi;
        }
        qsort(col, cn, sizeof *col, cmp_label_ay);
        spread(col, cn, lo, hi, bs, bp);
        double cr = side_cost(col, cn, 0, order, placed, mk, n, lb, g);
        double cl = side_cost(col, cn, 1, order, placed, mk, n, lb, g);
        int left = cl < cr;
        for (size_t k = 0; k < cn; k++) {
            col[k]->left = left;
            col[k]->tx = left ? m_lo - LABEL_GAP : m_hi + LABEL_GAP;
            col[k]->col = n_cols;
        }
        grp[n_cols] = n_cols;
        n_cols++;
        /* Keep the placed ones at the front of `order` for later costs. */
        placed = c1;
        c0 = c1;
    }
    /* Columns whose labels still collide (both sides were taken) are
     * stacked together: their labels spread as one column, each keeping its
     * own x, so no two of them share a line. Groups only merge, so this ends
     * within n_cols rounds. */
    for (size_t round = 0; round < n_cols; round++) {
        int merged = 0;
        for (size_t i = 0; i < nl; i++)
            for (size_t j = 0; j < nl; j++) {
                size_t gi = grp[lb[i].col], gj = grp[lb[j].col];
                if (gi == gj || !overlap(label_box(&lb[i], lb[i].left),
                                         label_box(&lb[j], lb[j].left)))
                    continue;
                for (size_t c = 0; c < n_cols; c++)
                    if (grp[c] == gj)
                        grp[c] = gi;
                merged = 1;
            }
        if (!merged)
            break;
        for (size_t gid = 0; gid < n_cols; gid++) {
            size_t m = 0;
            for (size_t i = 0; i < nl; i++)
                if (grp[lb[i].col] == gid)
                    tmp[m++] = &lb[i];
            if (m < 2)
                continue;
            qsort(tmp, m, sizeof *tmp, cmp_label_ay);
            spread(tmp, m, lo, hi, bs, bp);
        }
    }
    *n_labs = nl;
    free(order);
    free(tmp);
    free(bs);
    free(grp);
    free(bp);
    return KK_OK;
}

/* ---- drawing ----------------------------------------------------------------- */

static void draw_axes(FILE *out, const svg_plot_figure *f, const svg_plot_panel *p,
                      const geom *g)
{
    double bottom = g->strip_y >= 0 ? g->strip_y + STRIP_H / 2 : g->plot_bot;
    /* grid and ticks: powers of two across, decades up */
    for (int e = (int)ceil(g->lx0); e <= (int)floor(g->lx1); e++) {
        double x = g->x0 + ((double)e - g->lx0) / (g->lx1 - g->lx0) * (g->x1 - g->x0);
        char t[32];
        snprintf(t, sizeof t, e >= 0 ? "%.0f" : "%g", ldexp(1.0, e));
        svg_line(out, x, g->plot_top, x, bottom, C_GRID, 1, NULL);
        svg_line(out, x, bottom, x, bottom + 5, C_AXIS, 1, NULL);
        svg_text(out, x, bottom + 19, "middle", LABEL_SIZE, 0, C_TEXT, 0, 0, t);
    }
    int step = (int)ceil((g->ly1 - g->ly0) / 9.0);
    for (int e = (int)g->ly0; e <= (int)g->ly1; e++) {
        double y = px_y(g, pow(10.0, e));
        svg_line(out, g->x0, y, g->x1, y, C_GRID, 1, NULL);
        svg_line(out, g->x0 - 5, y, g->x0, y, C_AXIS, 1, NULL);
        if ((e - (int)g->ly0) % step == 0)
            svg_text_pow10(out, g->x0 - 8, y + 4.5, "end", LABEL_SIZE, e);
    }
    svg_rect(out, g->x0, g->plot_top, g->x1 - g->x0, g->plot_bot - g->plot_top, "none", C_AXIS,
             1);
    if (g->strip_y >= 0) {
        double s0 = g->strip_y - STRIP_H / 2;
        svg_rect(out, g->x0, s0, g->x1 - g->x0, STRIP_H, "#f3f3f3", C_AXIS, 1);
        svg_line(out, g->x0 - 5, g->strip_y, g->x0, g->strip_y, C_AXIS, 1, NULL);
        svg_text(out, g->x0 - 8, g->strip_y + 4.2, "end", LABEL_SIZE, 0, C_TEXT, 0, 0,
                 "0 (exact)");
        /* the axis break between the log scale and zero */
        for (int k = 0; k < 2; k++) {
            double y = g->plot_bot + 3 + 4 * k;
            svg_line(out, g->x0 - 6, y + 2, g->x0 + 6, y - 2, C_AXIS, 1, NULL);
        }
    }
    svg_text(out, (g->x0 + g->x1) / 2, bottom + 48, "middle", 13, 0, C_TEXT, 0, 0,
             f->x_label);
    svg_text(out, 22, (g->plot_top + g->plot_bot) / 2, "middle", 13, 0, C_TEXT, -90, 0,
             p->y_label);
}

static void draw_bound(FILE *out, const geom *g)
{
    /* D(R) = 2^(-2R) over the visible part: log10 D = -2 R log10 2. */
    double r_hi = -g->ly0 / (2 * log10(2.0)), r_lo = -g->ly1 / (2 * log10(2.0));
    double a = fmax(g->lx0, r_lo > 0 ? log2(r_lo) : g->lx0);
    double b = fmin(g->lx1, log2(r_hi));
    if (!(a < b))
        return;
    svg_poly_begin(out, C_BOUND, 2, "7 4");
    for (int k = 0; k <= 200; k++) {
        double r = exp2(a + (b - a) * k / 200.0);
        svg_poly_point(out, px_x(g, r), px_y(g, exp2(-2 * r)));
    }
    svg_poly_end(out);
}

/* The rates the points sit at, as small ticks under the axis (the powers
 * of two alone do not say that a column is at 4.5 bits), and a rug line
 * through each column whose markers were spread sideways. */
static void draw_rates(FILE *out, const geom *g, const mark *mk, size_t n)
{
    double bottom = g->strip_y >= 0 ? g->strip_y + STRIP_H / 2 : g->plot_bot;
    double last_end = -INFINITY;
    double *xs = malloc((n ? n : 1) * sizeof *xs);
    if (!xs)
        return; /* the ticks are an aid; the plot stands without them */
    size_t nx = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < nx && fabs(xs[k] - mk[i].px) >= 1)
            k++;
        if (k == nx)
            xs[nx++] = mk[i].px;
    }
    for (size_t a = 1; a < nx; a++) /* insertion sort: a handful of rates */
        for (size_t b = a; b > 0 && xs[b - 1] > xs[b]; b--) {
            double t = xs[b];
            xs[b] = xs[b - 1];
            xs[b - 1] = t;
        }
    for (size_t k = 0; k < nx; k++) {
        double x = xs[k];
        /* swarms: markers of this rate chained less than a marker apart */
        for (size_t i = 0; i < n; i++) {
            if (fabs(mk[i].px - x) >= 1 || fabs(mk[i].mx - mk[i].px) < 0.5)
                continue;
            double lo = mk[i].py, hi = mk[i].py;
            for (int grew = 1; grew;) {
                grew = 0;
                for (size_t j = 0; j < n; j++)
                    if (fabs(mk[j].px - x) < 1 && mk[j].py >= lo - 2 * MARK_R - 2 &&
                        mk[j].py <= hi + 2 * MARK_R + 2 && (mk[j].py < lo || mk[j].py > hi)) {
                        lo = fmin(lo, mk[j].py);
                        hi = fmax(hi, mk[j].py);
                        grew = 1;
                    }
            }
            svg_line(out, x, lo - 2 * MARK_R, x, hi + 2 * MARK_R, "#bbbbbb", 1.5, NULL);
        }
        double r = exp2(g->lx0 + (x - g->x0) / (g->x1 - g->x0) * (g->lx1 - g->lx0));
        char t[32];
        snprintf(t, sizeof t, "%.3g", r);
        double w = svg_text_width(t, 10);
        svg_line(out, x, bottom, x, bottom + 4, "#888888", 1, NULL);
        /* a row under the powers of two; skip a power itself, or no room */
        if (fabs(r - exp2(round(log2(r)))) < 1e-6 * r || x - w / 2 < last_end + 4)
            continue;
        svg_text(out, x, bottom + 31, "middle", 10, 0, "#777777", 0, 0, t);
        last_end = x + w / 2;
    }
    free(xs);
}

static kk_code draw_panel(FILE *out, const svg_plot_figure *f, const svg_plot_panel *p,
                          const geom *g, kk_err *err)
{
    svg_text(out, g->x0 - PAD_L + 12, g->top + 20, "start", 15, 1, C_TEXT, 0, 0, p->title);
    if (p->subtitle)
        svg_text(out, g->x0 - PAD_L + 12, g->top + 38, "start", LABEL_SIZE, 0, "#666666", 0, 0,
                 p->subtitle);
    legend_draw(out, f, p, g, 1);
    draw_axes(out, f, p, g);
    if (p->bound)
        draw_bound(out, g);
    if (p->n_points == 0) {
        svg_text(out, (g->x0 + g->x1) / 2, (g->plot_top + g->plot_bot) / 2, "middle", 14, 0,
                 "#666666", 0, 0, "no arm records these metrics");
        return KK_OK;
    }
    mark *mk = calloc(p->n_points, sizeof *mk);
    label *lb = calloc(p->n_points, sizeof *lb);
    size_t nl = 0;
    kk_code rc = mk && lb ? layout(p, g, mk, lb, &nl, err)
                          : kk_err_set(err, KK_E_NOMEM, "out of memory for %zu points",
                                       p->n_points);
    if (rc != KK_OK)
        goto done;
    draw_rates(out, g, mk, p->n_points);
    for (size_t j = 0; j < nl; j++) { /* leader lines under the markers */
        const label *l = &lb[j];
        double next_to = l->left ? l->m_lo : l->m_hi; /* the column's marker edge */
        if (fabs(l->y - l->ay) < 2 && !l->own_wide &&
            fabs(next_to - (l->left ? l->lx - MARK_R : l->lx + MARK_R)) < 1)
            continue; /* the label sits right beside its one marker */
        double x_end = l->left ? l->tx + 2 : l->tx - 2;
        double x_mid = l->left ? l->tx + 6 : l->tx - 6;
        svg_poly_begin(out, C_LEADER, 0.8, NULL);
        svg_poly_point(out, l->lx, l->ay);
        svg_poly_point(out, x_mid, l->y);
        svg_poly_point(out, x_end, l->y);
        svg_poly_end(out);
    }
    for (size_t i = 0; i < p->n_points; i++) {
        const svg_plot_point *pt = &p->points[i];
        if (pt->ring && f->ring_legend)
            fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"none\" "
                         "stroke=\"#222222\" stroke-width=\"1.2\"/>\n", mk[i].mx, mk[i].py,
                    MARK_R + 3.5);
        svg_marker(out, f->classes[pt->cls].shape, mk[i].mx, mk[i].py, MARK_R,
                   f->classes[pt->cls].color, pt->hollow);
    }
    for (size_t j = 0; j < nl; j++)
        svg_text(out, lb[j].tx, lb[j].y + 4.2, lb[j].left ? "end" : "start", LABEL_SIZE, 0,
                 C_TEXT, 0, 1, lb[j].text);
done:
    free(mk);
    free(lb);
    return rc;
}

/* ---- the figure -------------------------------------------------------------- */

static kk_code check_points(const svg_plot_figure *f, kk_err *err)
{
    for (size_t p = 0; p < f->n_panels; p++)
        for (size_t i = 0; i < f->panels[p].n_points; i++) {
            const svg_plot_point *pt = &f->panels[p].points[i];
            if (!isfinite(pt->x) || pt->x <= 0 || !isfinite(pt->y) || pt->y < 0)
                return kk_err_set(err, KK_E_RANGE,
                                  "plot point '%s': (%g, %g) cannot be drawn (x > 0 and "
                                  "y >= 0, finite)", pt->label, pt->x, pt->y);
            if (pt->cls >= f->n_classes)
                return kk_err_set(err, KK_E_RANGE, "plot point '%s': class %zu of %zu",
                                  pt->label, pt->cls, f->n_classes);
        }
    return KK_OK;
}

kk_code svg_plot_write(FILE *out, const svg_plot_figure *f, kk_err *err)
{
    kk_code rc = check_points(f, err);
    if (rc != KK_OK)
        return rc;
    geom *gs = calloc(f->n_panels ? f->n_panels : 1, sizeof *gs);
    if (!gs)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    double lx0, lx1, y = 0;
    x_domain(f, &lx0, &lx1);
    for (size_t p = 0; p < f->n_panels; p++) {
        geom *g = &gs[p];
        int has_zero;
        g->top = y;
        g->x0 = PAD_L;
        g->x1 = FIG_W - PAD_R;
        g->lx0 = lx0;
        g->lx1 = lx1;
        y_domain(&f->panels[p], &g->ly0, &g->ly1, &has_zero);
        g->legend_y = y + TITLE_H + LEGEND_ROW_H / 2;
        int rows = legend_draw(out, f, &f->panels[p], g, 0);
        g->plot_top = y + TITLE_H + rows * LEGEND_ROW_H + 10;
        g->plot_bot = g->plot_top + PLOT_H;
        g->strip_y = has_zero ? g->plot_bot + STRIP_GAP + STRIP_H / 2 : -1;
        g->bottom = (has_zero ? g->strip_y + STRIP_H / 2 : g->plot_bot) + XAXIS_H;
        y = g->bottom + PANEL_GAP;
    }
    svg_open(out, FIG_W, y, f->title);
    for (size_t p = 0; p < f->n_panels && rc == KK_OK; p++)
        rc = draw_panel(out, f, &f->panels[p], &gs[p], err);
    svg_close(out);
    free(gs);
    if (rc == KK_OK && ferror(out))
        rc = kk_err_set(err, KK_E_IO, "writing the SVG failed");
    return rc;
}
