/*
 * ftheta_gguf: a fitted f_theta pair (the K map and the V map) as a GGUF
 * file, written by the engine's writer (temp + rename) and read back.
 *
 * Layout (docs/restoration.md):
 *   general.architecture   "ftheta"
 *   ftheta.rank, ftheta.lambda (f64), ftheta.calib.seed,
 *   ftheta.calib.positions, ftheta.fit_s (f64),
 *   ftheta.verifier.sha256, ftheta.proposer.sha256 (64 hex, of the GGUF
 *   bytes), ftheta.rel_mse.{train,heldout}.{k,v} (f64)
 *   tensors ftheta.{k,v}.{mu_x, mu_y, enc, dec}, F32: mu_x (din),
 *   mu_y (dout), enc ne (rank, din) = din rows of rank, dec ne (dout, rank)
 * Reading checks every key's type and every tensor's shape against the
 * others (located errors naming the key or tensor), so a file that loads
 * is a map that applies.
 *
 * Ownership: ftheta_pair_read returns two maps the caller frees
 * (ftheta_free); the file is not kept open.
 */
#ifndef KK_FTHETA_GGUF_H
#define KK_FTHETA_GGUF_H

#include <stdint.h>

#include "ftheta.h"
#include "kk_err.h"

typedef struct ftheta_meta {
    uint64_t calib_seed;
    int64_t calib_positions;  /* calibration positions fitted on */
    double fit_s;             /* wall clock of the two fits */
    char verifier_sha256[65];
    char proposer_sha256[65];
    double rel_mse_train_k, rel_mse_train_v;
    double rel_mse_heldout_k, rel_mse_heldout_v;
} ftheta_meta;

kk_code ftheta_pair_write(const ftheta *k, const ftheta *v, const ftheta_meta *m,
                          const char *path, kk_err *err);
kk_code ftheta_pair_read(const char *path, ftheta **k, ftheta **v, ftheta_meta *m, kk_err *err);
/* The same from an open GGUF (borrowed; the maps are copies). */
struct gguf_file;
kk_code ftheta_pair_from_gguf(const struct gguf_file *g, ftheta **k, ftheta **v, ftheta_meta *m,
                              kk_err *err);

#endif /* KK_FTHETA_GGUF_H */
