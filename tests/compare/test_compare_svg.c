/* svg, svg_plot, compare_plot: the SVG is well-formed XML (parsed back by a
 * minimal checker), text is escaped, labels never overlap one another (on
 * the committed kv-quant-sweep evidence and on random crowded panels), and
 * points that cannot be drawn are refused. Rendering with rsvg-convert is
 * tested in test_compare_cli.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "kk_file.h"
#include "kk_rand.h"
#include "svg.h"
#include "svg_plot.h"
#include "test_util.h"

/* ---- a minimal XML well-formedness check --------------------------------------------
 * Enough of XML 1.0 for what svg.c writes: one prolog, elements with
 * name="value" attributes, self-closing tags, text, the five predefined
 * entities and numeric references. Tags must nest and close; '<' and a bare
 * '&' may not appear in text or attribute values. */
static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == ':' || c == '.';
}

static const char *check_ref(const char *p)
{
    static const char *const ENT[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t k = 0; k < 5; k++)
        if (!strncmp(p, ENT[k], strlen(ENT[k])))
            return p + strlen(ENT[k]);
    if (p[1] == '#') {
        const char *q = p + 2;
        while (*q >= '0' && *q <= '9')
            q++;
        return *q == ';' && q > p + 2 ? q + 1 : NULL;
    }
    return NULL;
}

/* @return NULL when well-formed, else a message (static). */
static const char *xml_check(const char *s)
{
    static char msg[160];
    char stack[64][32];
    int depth = 0, seen_root = 0;
    const char *p = s;
    if (strncmp(p, "<?xml ", 6) != 0)
        return "no XML declaration";
    if (!(p = strstr(p, "?>")))
        return "unterminated declaration";
    p += 2;
    while (*p) {
        if (*p != '<') {
            if (*p == '&') {
                if (!(p = check_ref(p)))
                    return "bare & in text";
                continue;
            }
            if (depth == 0 && !strchr(" \n\t\r", *p))
                return "text outside the root";
            p++;
            continue;
        }
        p++;
        int closing = *p == '/';
        p += closing;
        char name[32];
        size_t n = 0;
        while (is_name_char(*p) && n < sizeof name - 1)
            name[n++] = *p++;
        name[n] = '\0';
        if (n == 0)
            return "empty tag name";
        if (closing) {
            if (*p != '>')
                return "junk in a closing tag";
            p++;
            if (depth == 0 || strcmp(stack[depth - 1], name) != 0) {
                snprintf(msg, sizeof msg, "</%s> closes nothing open", name);
                return msg;
            }
            depth--;
            continue;
        }
        if (depth == 0 && seen_root++)
            return "two root elements";
        for (;;) {
            while (strchr(" \n\t", *p) && *p)
                p++;
            if (*p == '>' || (*p == '/' && p[1] == '>'))
                break;
            size_t an = 0;
            while (is_name_char(*p))
                p++, an++;
            if (an == 0 || *p++ != '=' || *p++ != '"')
                return "bad attribute";
            while (*p && *p != '"') {
                if (*p == '<')
                    return "< in an attribute value";
                if (*p == '&') {
                    if (!(p = check_ref(p)))
                        return "bare & in an attribute";
                    continue;
                }
                p++;
            }
            if (*p++ != '"')
                return "unterminated attribute";
        }
        if (*p == '/') {
            p += 2;
            continue;
        }
        p++;
        if (depth == 64)
            return "nested too deep";
        snprintf(stack[depth++], sizeof stack[0], "%s", name);
    }
    if (depth != 0) {
        snprintf(msg, sizeof msg, "<%s> left open", stack[depth - 1]);
        return msg;
    }
    return seen_root ? NULL : "no root element";
}

static void xml_checker_bites(void **s)
{
    (void)s;
    assert_null(xml_check("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; u</a>\n"));
    assert_non_null(xml_check("<?xml version=\"1.0\"?><a><b></a>"));
    assert_non_null(xml_check("<?xml version=\"1.0\"?><a>x & y</a>"));
    assert_non_null(xml_check("<?xml version=\"1.0\"?><a x=\"<\"></a>"));
    assert_non_null(xml_check("<?xml version=\"1.0\"?><a></a><b></b>"));
    assert_non_null(xml_check("<a></a>"));
}

/* ---- label boxes read back from the SVG --------------------------------------------- */

typedef struct lbox {
    double x0, y0, x1, y1;
    char text[160];
} lbox;

static char *attr(const char *tag, const char *name, char *buf, size_t cap)
{
    char key[40];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *p = strstr(tag, key);
    if (!p)
        return NULL;
    p += strlen(key);
    size_t n = 0;
    while (p[n] && p[n] != '"' && n + 1 < cap)
        n++;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static void unescape(char *s)
{
    static const char *const E[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
                                       {"&quot;", "\""}, {"&apos;", "'"}};
    char *w = s;
    for (char *r = s; *r;) {
        size_t k = 0;
        while (k < 5 && strncmp(r, E[k][0], strlen(E[k][0])) != 0)
            k++;
        if (k < 5) {
            *w++ = E[k][1][0];
            r += strlen(E[k][0]);
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* Point labels are the text elements with a white halo (svg_plot.c). */
static size_t label_boxes(const char *svg, lbox *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = svg; (p = strstr(p, "<text ")) && n < cap; p++) {
        const char *end = strchr(p, '>');
        char tag[600], b[64];
        size_t len = (size_t)(end - p);
        if (len >= sizeof tag)
            continue;
        memcpy(tag, p, len);
        tag[len] = '\0';
        if (!strstr(tag, "stroke=\"#ffffff\""))
            continue;
        const char *close = strstr(end, "</text>");
        size_t tl = (size_t)(close - end - 1);
        lbox *l = &out[n++];
        snprintf(l->text, sizeof l->text, "%.*s", (int)tl, end + 1);
        unescape(l->text);
        double x = atof(attr(tag, "x", b, sizeof b)), y = atof(attr(tag, "y", b, sizeof b));
        double w = svg_text_width(l->text, 12);
        int right = strcmp(attr(tag, "text-anchor", b, sizeof b), "end") == 0;
        l->x0 = right ? x - w : x;
        l->x1 = right ? x : x + w;
        l->y0 = y - 4.2 - 7; /* centre at baseline - 4.2; 14 px of the 15 px line */
        l->y1 = y - 4.2 + 7;
    }
    return n;
}

static void assert_no_label_overlaps(const char *svg, size_t min_labels)
{
    static lbox l[512];
    size_t n = label_boxes(svg, l, 512);
    assert_true(n >= min_labels);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            int hit = l[i].x0 < l[j].x1 && l[j].x0 < l[i].x1 && l[i].y0 < l[j].y1 &&
                      l[j].y0 < l[i].y1;
            if (hit && getenv("KK_DUMP_SVG")) {
                FILE *f = fopen(getenv("KK_DUMP_SVG"), "w");
                if (f) {
                    fputs(svg, f);
                    fclose(f);
                }
            }
            if (hit)
                fail_msg("labels '%s' (%.0f,%.0f) and '%s' (%.0f,%.0f) overlap", l[i].text,
                         l[i].x0, l[i].y0, l[j].text, l[j].x0, l[j].y0);
        }
}

static char *render(const svg_plot_figure *f, kk_code *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&buf, &len);
    assert_non_null(ms);
    kk_err e;
    *rc = svg_plot_write(ms, f, &e);
    fclose(ms);
    return buf;
}

static const svg_plot_class CLS[] = {{"a", SVG_SHAPE_CIRCLE, "#009E73"},
                                     {"b", SVG_SHAPE_SQUARE, "#E69F00"}};

/* ---- the tests ------------------------------------------------------------------------ */

static void plot_of_committed_evidence_is_well_formed_and_labels_do_not_overlap(void **s)
{
    (void)s;
    char root[900], dir[1000], path[1300] = "";
    kk_err e;
    assert_int_equal(kk_repo_root(root, sizeof root, &e), KK_OK);
    snprintf(dir, sizeof dir, "%s/evidence/kv-quant-sweep", root);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "SKIP: %s not found\n", dir);
        skip();
    }
    struct dirent *ent;
    while ((ent = readdir(d)))
        if (strstr(ent->d_name, ".json") && (!path[0] || strcmp(ent->d_name, path) > 0))
            snprintf(path, sizeof path, "%s", ent->d_name);
    closedir(d);
    char full[2400];
    snprintf(full, sizeof full, "%s/%s", dir, path);
    compare_set set;
    assert_int_equal(compare_set_load(full, &set, &e), KK_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&buf, &len);
    assert_int_equal(compare_write_svg(ms, &set, 1, COMPARE_DIST_GAUSSIAN, &e), KK_OK);
    fclose(ms);
    const char *why = xml_check(buf);
    if (why)
        fail_msg("not well-formed: %s", why);
    assert_non_null(strstr(buf, "D(R) = 2^(-2R)"));
    assert_non_null(strstr(buf, "bits per value"));
    for (size_t i = 0; i < set.n_arms; i++)
        assert_non_null(strstr(buf, set.arms[i].name));
    /* every arm in the Gaussian panel, and K and V in the second */
    assert_no_label_overlaps(buf, set.n_arms);
    free(buf);
    compare_set_free(&set);
}

static void crowded_random_panels_keep_labels_apart(void **s)
{
    (void)s;
    uint64_t seed = 3;
    static svg_plot_point pts[24];
    static char names[24][24];
    static const double RATES[] = {2.5, 3, 4.5, 4.25, 8.5, 16, 32};
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 2 + kk_splitmix64(&seed) % 22;
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "arm-%zu%s", i,
                     kk_splitmix64(&seed) % 3 ? "" : "-rotated");
            double y = kk_splitmix64(&seed) % 8 == 0
                           ? 0
                           : 0.01 * pow(10, -(double)(kk_splitmix64(&seed) % 100) / 200);
            pts[i] = (svg_plot_point){names[i], kk_splitmix64(&seed) % 4 ? NULL : "K",
                                      RATES[kk_splitmix64(&seed) % 7], y, kk_splitmix64(&seed) % 2,
                                      (int)(kk_splitmix64(&seed) % 2), 0};
        }
        svg_plot_panel panel = {"t", NULL, "y", pts, n, 1, NULL, NULL};
        svg_plot_figure fig = {"f", "x", NULL, CLS, 2, &panel, 1};
        kk_code rc;
        char *buf = render(&fig, &rc);
        assert_int_equal(rc, KK_OK);
        assert_null(xml_check(buf));
        assert_no_label_overlaps(buf, 1);
        free(buf);
    }
}

static void text_is_escaped_and_bad_points_are_refused(void **s)
{
    (void)s;
    svg_plot_point p[2] = {{"a<b&\"c\"", NULL, 4, 0.01, 0, 0, 1},
                           {"exact", "K", 32, 0, 1, 1, 0}};
    svg_plot_panel panel = {"title <&>", "sub", "y", p, 2, 1, "K", "V"};
    svg_plot_figure fig = {"t&t", "x", "ring", CLS, 2, &panel, 1};
    kk_code rc;
    char *buf = render(&fig, &rc);
    assert_int_equal(rc, KK_OK);
    assert_null(xml_check(buf));
    assert_non_null(strstr(buf, "a&lt;b&amp;&quot;c&quot;"));
    assert_non_null(strstr(buf, "0 (exact)"));
    free(buf);

    p[0].y = -1;
    buf = render(&fig, &rc);
    assert_int_equal(rc, KK_E_RANGE);
    free(buf);
    p[0].y = NAN;
    buf = render(&fig, &rc);
    assert_int_equal(rc, KK_E_RANGE);
    free(buf);
    p[0].y = 0.1;
    p[0].cls = 2;
    buf = render(&fig, &rc);
    assert_int_equal(rc, KK_E_RANGE);
    free(buf);
}

static void a_panel_without_points_says_so(void **s)
{
    (void)s;
    svg_plot_panel panel = {"t", NULL, "y", NULL, 0, 1, NULL, NULL};
    svg_plot_figure fig = {"f", "x", NULL, CLS, 2, &panel, 1};
    kk_code rc;
    char *buf = render(&fig, &rc);
    assert_int_equal(rc, KK_OK);
    assert_null(xml_check(buf));
    assert_non_null(strstr(buf, "no arm records"));
    free(buf);
}

static void text_width_estimate_grows_with_text(void **s)
{
    (void)s;
    assert_true(svg_text_width("", 12) == 0);
    assert_true(svg_text_width("iiii", 12) < svg_text_width("mmmm", 12));
    assert_true(svg_text_width("e8-4-rot", 24) > 1.9 * svg_text_width("e8-4-rot", 12));
    /* a multi-byte character counts once */
    assert_true(svg_text_width("\xe2\x89\xa5", 12) == svg_text_width("W", 12));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xml_checker_bites),
        cmocka_unit_test(plot_of_committed_evidence_is_well_formed_and_labels_do_not_overlap),
        cmocka_unit_test(crowded_random_panels_keep_labels_apart),
        cmocka_unit_test(text_is_escaped_and_bad_points_are_refused),
        cmocka_unit_test(a_panel_without_points_says_so),
        cmocka_unit_test(text_width_estimate_grows_with_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
