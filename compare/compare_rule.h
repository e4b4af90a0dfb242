/*
 * compare_rule: the decision rules of `kakeya compare` (docs/compare.md):
 * the Pareto front over rate, distortion and recall, and the verdict of one
 * arm against a baseline. Pure functions of compare_points: no I/O.
 *
 * Recall is compared by its 95% intervals: arm A's recall is *lost* against
 * B when A's interval lies entirely below B's (A.hi < B.lo), *higher* when
 * it lies entirely above (A.lo > B.hi), and *equal* when they overlap
 * (overlap is not a loss: the samples cannot tell them apart).
 */
#ifndef KK_COMPARE_RULE_H
#define KK_COMPARE_RULE_H

#include <stddef.h>

#include "compare.h"
#include "kk_err.h"

/* Distortions within this many dB count as equal. The Gaussian rel_mse is
 * measured on 64 Ki values (harness/run_niah.c RUN_NIAH_GAUSS_N): a
 * quantizer's squared error has a coefficient of variation near 0.9, so the
 * estimate's standard error is about 0.9 / sqrt(65536) = 0.35% = 0.015 dB;
 * 0.1 dB is more than 6 of those, and far below any difference that matters
 * (one bit is 6.02 dB). Rotations, which the Gaussian data cannot see, stay
 * inside it (affine-4-rot vs affine-4: +0.05 dB). */
#define COMPARE_EQUAL_DB 0.1

/* Rates closer than this are the same rate: bits/value come from byte
 * counts, so equal codecs give equal doubles; the slack only absorbs a
 * decimal round trip of the evidence. */
#define COMPARE_RATE_EPS 1e-9

/* Recall of a against b: -1 lost, 0 equal (intervals overlap), +1 higher,
 * 2 unknown (one side has no recall). */
int compare_recall_cmp(const compare_point *a, const compare_point *b);

/* a dominates b: a is no worse in rate (<=), distortion (not higher by
 * more than COMPARE_EQUAL_DB) and recall (not lost), and better in one of
 * them (a lower rate, a distortion lower by more than COMPARE_EQUAL_DB, or
 * a recall interval entirely above). Missing recall on either side counts
 * as equal. Both need rate and distortion. */
int compare_dominates(const compare_point *a, const compare_point *b);

/* The Pareto front: front[i] = 1 when no arm dominates arm i, 0 when one
 * does, -1 when arm i has no rate or distortion (not judged). The fast
 * path sorts by rate and looks only at arms of no higher rate (the only
 * ones that can dominate); compare_front_ref checks every pair.
 * @return KK_OK or KK_E_NOMEM. */
kk_code compare_front(const compare_point *p, size_t n, int *front,
                      kk_err *err);
void compare_front_ref(const compare_point *p, size_t n, int *front);

typedef enum compare_verdict {
    COMPARE_ADOPT = 0,
    COMPARE_REJECT,
    COMPARE_INCONCLUSIVE
} compare_verdict;

/* Bits of compare_judgement.why. */
enum {
    COMPARE_WHY_RATE_HIGHER = 1u << 0,  /* reject: more bits/value */
    COMPARE_WHY_RECALL_LOST = 1u << 1,  /* reject: interval entirely below */
    COMPARE_WHY_DIST_HIGHER = 1u << 2,  /* reject: rel_mse higher */
    COMPARE_WHY_DIST_EQUAL = 1u << 3,   /* inconclusive: within COMPARE_EQUAL_DB */
    COMPARE_WHY_MISSING = 1u << 4,      /* inconclusive: rate or distortion absent */
    COMPARE_WHY_RECALL_MISSING = 1u << 5 /* inconclusive: recall on one side only */
};

typedef struct compare_judgement {
    compare_verdict verdict;
    double delta_db;    /* 10 log10(arm / base distortion); 0 when both are 0,
                           -inf / +inf when only one is; NaN when unknown */
    double delta_bits;  /* arm - base bits/value; NaN when unknown */
    int recall;         /* compare_recall_cmp(arm, base) */
    unsigned why;       /* COMPARE_WHY_* */
} compare_judgement;

/* The rule: adopt the arm over the baseline only if its distortion is
 * lower (by more than COMPARE_EQUAL_DB) at no higher measured rate without
 * losing recall. A higher rate, a lost recall or a higher distortion
 * rejects it; a distortion equal within COMPARE_EQUAL_DB, or a missing
 * number, leaves it inconclusive. When neither side measured recall the
 * rule judges rate and distortion alone. */
compare_judgement compare_judge(const compare_point *arm,
                                const compare_point *base);

const char *compare_verdict_name(compare_verdict v); /* "adopt", ... */

#endif /* KK_COMPARE_RULE_H */
