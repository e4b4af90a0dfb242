/*
 * svg: a small SVG 1.1 writer (the primitives the plots need). Every
 * function prints one element to `out`; text is escaped for XML (& < > " ')
 * and numbers are printed with '.' (main sets LC_NUMERIC "C") to 0.01 px.
 * The caller writes into a memory stream and saves the file whole
 * (kk_file_write_atomic); a failed write shows as ferror(out).
 *
 * Ownership: nothing is allocated; strings are borrowed for the call.
 */
#ifndef KK_SVG_H
#define KK_SVG_H

#include <stdio.h>

/* Marker shapes, told apart without colour. */
typedef enum svg_shape {
    SVG_SHAPE_CIRCLE = 0,
    SVG_SHAPE_SQUARE,
    SVG_SHAPE_TRIANGLE,
    SVG_SHAPE_DIAMOND
} svg_shape;

/* The font every text element uses: DejaVu Sans is on Debian's base image
 * (fonts-dejavu-core), so rsvg-convert and browsers agree on widths. */
#define SVG_FONT "DejaVu Sans, Verdana, Arial, sans-serif"

/* <?xml ...?><svg ...> with a white background; svg_close ends it. */
void svg_open(FILE *out, double w, double h, const char *title);
void svg_close(FILE *out);

/* XML-escaped text content (also safe inside attribute values). */
void svg_escape(FILE *out, const char *s);

/* Text at (x, y) (baseline); anchor "start", "middle" or "end"; rotate in
 * degrees about (x, y) (0: none); bold 0/1; fill a colour. halo 1 draws a
 * white outline under the glyphs so lines behind the text do not cut it. */
void svg_text(FILE *out, double x, double y, const char *anchor, double size, int bold,
              const char *fill, double rotate, int halo, const char *text);

/* "10" with a superscript exponent, anchored like svg_text. */
void svg_text_pow10(FILE *out, double x, double y, const char *anchor, double size,
                    int exponent);

void svg_line(FILE *out, double x1, double y1, double x2, double y2, const char *stroke,
              double width, const char *dash /* NULL: solid */);
void svg_rect(FILE *out, double x, double y, double w, double h, const char *fill,
              const char *stroke /* NULL: none */, double width);

/* A marker of radius r centred at (x, y): filled with colour, or hollow
 * (white inside, a thicker coloured outline). */
void svg_marker(FILE *out, svg_shape shape, double x, double y, double r, const char *color,
                int hollow);

/* A polyline: begin, points, end. */
void svg_poly_begin(FILE *out, const char *stroke, double width, const char *dash);
void svg_poly_point(FILE *out, double x, double y);
void svg_poly_end(FILE *out);

/* Estimated advance width of text in px at font size `size` (DejaVu Sans
 * metrics, rounded up): layout uses it to keep labels apart. */
double svg_text_width(const char *s, double size);

#endif /* KK_SVG_H */
