/*
 * ftheta_calib: fit an f_theta pair (K and V maps) for a verifier and a
 * proposer with the same vocabulary, on calibration sequences both models
 * run with their own full caches.
 *
 * Calibration data: n_seq NIAH-shaped sequences of seq_len tokens (filler,
 * key-value pairs, a needle at a random depth: the distribution the maps
 * serve), sequence i from niah_sample_make with its own seed (splitmix64 of
 * the calibration seed and i), so the data is a function of (seed, n_seq,
 * seq_len). At every position, x = the proposer's pre-RoPE K (or V) of all
 * its layers concatenated, y = the verifier's; the pairs stream into the
 * accumulators (ftheta_acc) and are not kept. After the fit the training
 * sequences are run again for the training error, and heldout_seq further
 * sequences (seeds after the training ones) give the held-out error.
 *
 * Ownership: the maps returned are the caller's (ftheta_free); the models
 * are borrowed.
 */
#ifndef KK_FTHETA_CALIB_H
#define KK_FTHETA_CALIB_H

#include <stdint.h>

#include "ftheta.h"
#include "ftheta_gguf.h"
#include "kk_err.h"
#include "model.h"

typedef struct ftheta_calib_opts {
    int64_t n_seq;        /* training sequences, >= 1 */
    int64_t seq_len;      /* tokens each, NIAH_MIN_CTX.. */
    int64_t heldout_seq;  /* held-out sequences, >= 1 */
    uint64_t seed;
    int32_t rank;
    double lambda;        /* relative ridge (ftheta.h) */
    int32_t distractors;  /* key-value pairs besides the needle, 0..63 */
} ftheta_calib_opts;

/* Fits K and V maps; meta gets calib_seed, calib_positions (training
 * positions), fit_s and the four errors (the caller fills the sha256s).
 * @return KK_OK; KK_E_RANGE naming a bad option or a vocabulary mismatch;
 * the fit's errors (KK_E_CHECK: singular, raise lambda); KK_E_NOMEM. */
kk_code ftheta_calibrate(const model *verifier, const model *proposer,
                         const ftheta_calib_opts *o, ftheta **k, ftheta **v, ftheta_meta *meta,
                         kk_err *err);

#endif /* KK_FTHETA_CALIB_H */
