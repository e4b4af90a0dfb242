/*
 * sample: picking tokens from logits. Greedy (argmax) and top-k.
 * Ties go to the lowest id, as llama.cpp's greedy sampler (strict >).
 * No allocation; NaN logits never win.
 */
#ifndef KK_SAMPLE_H
#define KK_SAMPLE_H

#include <stdint.h>

/* The id of the largest logit among n (n >= 1); 0 when every one is NaN. */
int32_t sample_greedy(const float *logits, int64_t n);

/* The k largest logits, largest first (ties: lower id first): ids[0..k)
 * and, when vals is not NULL, their values. k is clamped to n;
 * @return the number written. O(n k), meant for small k. */
int64_t sample_top_k(const float *logits, int64_t n, int64_t k, int32_t *ids, float *vals);

#endif /* KK_SAMPLE_H */
