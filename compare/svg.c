/* svg: the SVG primitives (see svg.h). */
#include "svg.h"

#include <math.h>
#include <string.h>

void svg_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            /* XML 1.0 forbids most control characters even as references. */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
                fputc('?', out);
            else
                fputc(*s, out);
        }
    }
}

void svg_open(FILE *out, double w, double h, const char *title)
{
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                 "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                 "font-family=\"%s\">\n<title>", w, h, w, h, SVG_FONT);
    svg_escape(out, title);
    fprintf(out, "</title>\n");
    svg_rect(out, 0, 0, w, h, "#ffffff", NULL, 0);
}

void svg_close(FILE *out)
{
    fputs("</svg>\n", out);
}

void svg_text(FILE *out, double x, double y, const char *anchor, double size, int bold,
              const char *fill, double rotate, int halo, const char *text)
{
    fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.1f\" text-anchor=\"%s\" fill=\"%s\"",
            x, y, size, anchor, fill);
    if (bold)
        fputs(" font-weight=\"bold\"", out);
    if (rotate != 0)
        fprintf(out, " transform=\"rotate(%.1f %.2f %.2f)\"", rotate, x, y);
    if (halo)
        fputs(" stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" "
              "paint-order=\"stroke\"", out);
    fputc('>', out);
    svg_escape(out, text);
    fputs("</text>\n", out);
}

void svg_text_pow10(FILE *out, double x, double y, const char *anchor, double size,
                    int exponent)
{
    fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.1f\" text-anchor=\"%s\" "
                 "fill=\"#333333\">10<tspan dy=\"%.1f\" font-size=\"%.1f\">%d</tspan></text>\n",
            x, y, size, anchor, -0.45 * size, 0.75 * size, exponent);
}

void svg_line(FILE *out, double x1, double y1, double x2, double y2, const char *stroke,
              double width, const char *dash)
{
    fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                 "stroke-width=\"%.2f\"", x1, y1, x2, y2, stroke, width);
    if (dash)
        fprintf(out, " stroke-dasharray=\"%s\"", dash);
    fputs("/>\n", out);
}

void svg_rect(FILE *out, double x, double y, double w, double h, const char *fill,
              const char *stroke, double width)
{
    fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"", x, y,
            w, h, fill);
    if (stroke)
        fprintf(out, " stroke=\"%s\" stroke-width=\"%.2f\"", stroke, width);
    fputs("/>\n", out);
}

void svg_marker(FILE *out, svg_shape shape, double x, double y, double r, const char *color,
                int hollow)
{
    const char *fill = hollow ? "#ffffff" : color;
    double sw = hollow ? 2.0 : 1.0;
    const char *stroke = hollow ? color : "#222222";
    switch (shape) {
    case SVG_SHAPE_SQUARE: {
        double a = r * 0.9; /* the same visual weight as the circle */
        fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"", x - a, y - a,
                2 * a, 2 * a);
        break;
    }
    case SVG_SHAPE_TRIANGLE:
        fprintf(out, "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f\"", x, y - 1.2 * r,
                x - 1.1 * r, y + 0.8 * r, x + 1.1 * r, y + 0.8 * r);
        break;
    case SVG_SHAPE_DIAMOND:
        fprintf(out, "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f %.2f,%.2f\"", x,
                y - 1.25 * r, x + 1.1 * r, y, x, y + 1.25 * r, x - 1.1 * r, y);
        break;
    case SVG_SHAPE_CIRCLE:
    default:
        fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\"", x, y, r);
        break;
    }
    fprintf(out, " fill=\"%s\" stroke=\"%s\" stroke-width=\"%.1f\"/>\n", fill, stroke, sw);
}

void svg_poly_begin(FILE *out, const char *stroke, double width, const char *dash)
{
    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\"", stroke, width);
    if (dash)
        fprintf(out, " stroke-dasharray=\"%s\"", dash);
    fputs(" points=\"", out);
}

void svg_poly_point(FILE *out, double x, double y)
{
    fprintf(out, "%.2f,%.2f ", x, y);
}

void svg_poly_end(FILE *out)
{
    fputs("\"/>\n", out);
}

double svg_text_width(const char *s, double size)
{
    /* DejaVu Sans advance widths in em (units/2048 from the font's hmtx);
     * anything not listed (capitals, symbols, UTF-8 bytes) counts as 0.7 em,
     * wider than most, so an estimate errs on the side of more room. A UTF-8
     * continuation byte adds nothing. */
    double em = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c & 0xC0) == 0x80)
            continue;
        if (c >= '0' && c <= '9')
            em += 0.637;
        else if (strchr("il.,:;'|!", c))
            em += 0.318;
        else if (strchr("frtj-()/[] ", c))
            em += 0.40;
        else if (c == 'm')
            em += 0.974;
        else if (c == 'w')
            em += 0.818;
        else if (strchr("cksvxyz_", c))
            em += 0.59;
        else if (c >= 'a' && c <= 'z')
            em += 0.635;
        else
            em += 0.7;
    }
    return ceil(em * size * 1.03);
}
