/* compare_rule: the Pareto front and the verdict rule (see compare_rule.h). */
#include "compare_rule.h"

#include <math.h>
#include <stdlib.h>

int compare_recall_cmp(const compare_point *a, const compare_point *b)
{
    if (!a->has_recall || !b->has_recall)
        return 2;
    if (a->hi < b->lo)
        return -1;
    if (a->lo > b->hi)
        return 1;
    return 0;
}

/* Distortion of a against b: -1 lower, 0 equal within COMPARE_EQUAL_DB,
 * +1 higher; exact (0) is below every positive distortion. *db gets
 * 10 log10(a / b) (0 when both are 0, -inf / +inf when one is). */
static int dist_cmp(const compare_point *a, const compare_point *b, double *db)
{
    if (a->dist == 0 && b->dist == 0)
        *db = 0;
    else if (a->dist == 0)
        *db = -INFINITY;
    else if (b->dist == 0)
        *db = INFINITY;
    else
        *db = 10.0 * log10(a->dist / b->dist);
    return *db < -COMPARE_EQUAL_DB ? -1 : *db > COMPARE_EQUAL_DB ? 1 : 0;
}

static int judged(const compare_point *p)
{
    return p->has_bits && p->has_dist;
}

int compare_dominates(const compare_point *a, const compare_point *b)
{
    if (!judged(a) || !judged(b))
        return 0;
    int r = compare_recall_cmp(a, b);
    if (r == 2)
        r = 0;
    double db;
    int d = dist_cmp(a, b, &db);
    if (a->bits > b->bits + COMPARE_RATE_EPS || d > 0 || r < 0)
        return 0;
    return a->bits < b->bits - COMPARE_RATE_EPS || d < 0 || r > 0;
}

void compare_front_ref(const compare_point *p, size_t n, int *front)
{
    for (size_t i = 0; i < n; i++) {
        if (!judged(&p[i])) {
            front[i] = -1;
            continue;
        }
        front[i] = 1;
        for (size_t j = 0; j < n && front[i]; j++)
            if (j != i && compare_dominates(&p[j], &p[i]))
                front[i] = 0;
    }
}

/* qsort has no context argument in C11: the points travel beside the index. */
typedef struct rank {
    double bits;
    size_t i;
} rank;

static int cmp_rank(const void *x, const void *y)
{
    const rank *a = x, *b = y;
    if (a->bits != b->bits)
        return a->bits < b->bits ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

kk_code compare_front(const compare_point *p, size_t n, int *front, kk_err *err)
{
    if (n == 0)
        return KK_OK;
    rank *r = malloc(n * sizeof *r);
    if (!r)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu arms", n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        front[i] = judged(&p[i]) ? 1 : -1;
        if (front[i] == 1)
            r[m++] = (rank){p[i].bits, i};
    }
    qsort(r, m, sizeof *r, cmp_rank);
    /* A dominator has no higher rate: in sorted order it comes before b, or
     * after it within COMPARE_RATE_EPS. `hi` is one past the last arm whose
     * rate is within the slack of b's. */
    size_t hi = 0;
    for (size_t k = 0; k < m; k++) {
        const compare_point *b = &p[r[k].i];
        while (hi < m && r[hi].bits <= b->bits + COMPARE_RATE_EPS)
            hi++;
        for (size_t j = 0; j < hi; j++)
            if (j != k && compare_dominates(&p[r[j].i], b)) {
                front[r[k].i] = 0;
                break;
            }
    }
    free(r);
    return KK_OK;
}

compare_judgement compare_judge(const compare_point *arm, const compare_point *base)
{
    compare_judgement j = {COMPARE_INCONCLUSIVE, NAN, NAN, 2, 0};
    int have_rate = arm->has_bits && base->has_bits;
    int have_dist = arm->has_dist && base->has_dist;
    int dc = 0; /* -1 lower, 0 equal, +1 higher */
    if (have_rate) {
        j.delta_bits = arm->bits - base->bits;
        if (j.delta_bits > COMPARE_RATE_EPS)
            j.why |= COMPARE_WHY_RATE_HIGHER;
    }
    if (have_dist) {
        dc = dist_cmp(arm, base, &j.delta_db);
        if (dc > 0)
            j.why |= COMPARE_WHY_DIST_HIGHER;
        else if (dc == 0)
            j.why |= COMPARE_WHY_DIST_EQUAL;
    }
    j.recall = compare_recall_cmp(arm, base);
    if (j.recall < 0)
        j.why |= COMPARE_WHY_RECALL_LOST;
    if (j.recall == 2 && (arm->has_recall || base->has_recall))
        j.why |= COMPARE_WHY_RECALL_MISSING;
    if (!have_rate || !have_dist)
        j.why |= COMPARE_WHY_MISSING;

    if (j.why & (COMPARE_WHY_RATE_HIGHER | COMPARE_WHY_RECALL_LOST | COMPARE_WHY_DIST_HIGHER))
        j.verdict = COMPARE_REJECT;
    else if (have_rate && have_dist && dc < 0 && !(j.why & COMPARE_WHY_RECALL_MISSING))
        j.verdict = COMPARE_ADOPT;
    else
        j.verdict = COMPARE_INCONCLUSIVE;
    return j;
}

const char *compare_verdict_name(compare_verdict v)
{
    switch (v) {
    case COMPARE_ADOPT: return "adopt";
    case COMPARE_REJECT: return "reject";
    case COMPARE_INCONCLUSIVE: return "inconclusive";
    }
    return "?";
}
