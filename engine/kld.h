/*
 * kld: how far a perturbed model's next-token distributions are from the
 * exact model's, position by position (the damage measure of K/V codecs:
 * perplexity averages errors away, KL divergence per position does not).
 *
 * For each position t, with p = softmax(exact logits row t) and q =
 * softmax(other logits row t), computed in double from log-softmax:
 *   KL(p || q) = sum_i p_i (log p_i - log q_i)       (nats, >= 0)
 * and whether the two rows' argmax (lowest id on ties) agree. The summary:
 * mean, the 99th percentile (nearest rank on the sorted values), the max,
 * and the share of positions whose top-1 agrees: llama.cpp's
 * `llama-perplexity --kl-divergence` reports the same figures.
 *
 * Ownership: plain values; kld_rows allocates nothing but its scratch,
 * which it frees.
 */
#ifndef KK_KLD_H
#define KK_KLD_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

typedef struct kld_summary {
    int64_t n;           /* positions */
    double mean, p99, max;
    double top1_agree;   /* share of positions with the same argmax */
} kld_summary;

/* KL(softmax(p) || softmax(q)) of one row of n_vocab logits, in nats. */
double kld_row(const float *p_logits, const float *q_logits, int64_t n_vocab);

/* The summary over n rows of n_vocab logits each (row-major). @return
 * KK_OK, KK_E_RANGE for n < 1 or n_vocab < 1, KK_E_NOMEM. */
kk_code kld_rows(const float *p_logits, const float *q_logits, int64_t n, int64_t n_vocab,
                 kld_summary *out, kk_err *err);

#endif /* KK_KLD_H */
