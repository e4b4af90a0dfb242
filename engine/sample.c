/* sample: see sample.h. */
#include "sample.h"

#include <math.h>

int32_t sample_greedy(const float *logits, int64_t n)
{
    int32_t best = 0;
    float bv = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (logits[i] > bv) {
            bv = logits[i];
            best = (int32_t)i;
        }
    return best;
}

int64_t sample_top_k(const float *logits, int64_t n, int64_t k, int32_t *ids, float *vals)
{
    if (k > n)
        k = n;
    if (k < 0)
        k = 0;
    int64_t have = 0;
    /* Insertion into a sorted list of at most k: (value desc, id asc). */
    for (int64_t i = 0; i < n; i++) {
        const float v = logits[i];
        if (isnan(v))
            continue;
        int64_t at = have;
        while (at > 0 && v > logits[ids[at - 1]])
            at--;
        if (at >= k)
            continue;
        int64_t last = have < k ? have : k - 1;
        for (int64_t j = last; j > at; j--)
            ids[j] = ids[j - 1];
        ids[at] = (int32_t)i;
        if (have < k)
            have++;
    }
    if (vals)
        for (int64_t j = 0; j < have; j++)
            vals[j] = logits[ids[j]];
    return have;
}
