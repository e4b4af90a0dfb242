/* fuzz_compare: `kakeya compare` on any bytes never crashes, and what it
 * accepts is consistent: the rate-sorted Pareto front equals the all-pairs
 * one, the table and the SVG are written, and evidence compared with itself
 * has no significant regression (every change is "same"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "compare_diff.h"
#include "compare_rule.h"

static void check_front(const compare_set *s, compare_dist d)
{
    compare_point *p = malloc(s->n_arms * sizeof *p);
    int *a = malloc(s->n_arms * sizeof *a), *b = malloc(s->n_arms * sizeof *b);
    if (!p || !a || !b)
        abort();
    for (size_t i = 0; i < s->n_arms; i++)
        p[i] = compare_arm_point(&s->arms[i], d);
    if (compare_front(p, s->n_arms, a, NULL) != KK_OK)
        abort();
    compare_front_ref(p, s->n_arms, b);
    if (memcmp(a, b, s->n_arms * sizeof *a) != 0)
        abort();
    free(p);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    compare_set s;
    kk_err e;
    kk_err_clear(&e);
    if (compare_set_parse((const char *)data, size, "fuzz.json", &s, &e) != KK_OK) {
        if (e.code == KK_OK || s.arms)
            abort();
        return 0;
    }
    check_front(&s, COMPARE_DIST_GAUSSIAN);
    check_front(&s, COMPARE_DIST_K);
    char *buf = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&buf, &len);
    if (!ms)
        abort();
    size_t base = 0;
    char why[256];
    if (compare_baseline(&s, NULL, NULL, &base, why, sizeof why, &e) != KK_OK ||
        base >= s.n_arms)
        abort();
    if (compare_write_set(ms, &s, base, why, COMPARE_DIST_GAUSSIAN, &e) != KK_OK)
        abort();
    kk_code rc = compare_write_svg(ms, &s, 1, COMPARE_DIST_GAUSSIAN, &e);
    if (rc != KK_OK && rc != KK_E_RANGE) /* a rate the plot cannot place */
        abort();
    fclose(ms);
    free(buf);
    compare_diff d;
    if (compare_diff_run(&s, &s, COMPARE_ALPHA_DEFAULT, &d, &e) != KK_OK || d.n_regressions)
        abort();
    for (size_t i = 0; i < d.n_rows; i++)
        if (d.rows[i].change != COMPARE_SAME)
            abort();
    compare_diff_free(&d);
    compare_set_free(&s);
    return 0;
}
