/*
 * bench_model: the generated benchmark models of the performance issue,
 * written on demand into the cache folder of the contracts file and never
 * committed. One concept: which file, and writing it if it is absent.
 *
 *   llama134m  llama, d 768, 12 layers, 12 heads (head dim 64), FFN 2048,
 *              vocab 32000, untied output: 134M parameters (`make bench`,
 *              the `engine-bench` preset)
 *   tiny       llama, d 64, 2 layers, 4 heads (head dim 16), FFN 128, vocab
 *              32000, untied: for tests (a few MB; same vocabulary, so the
 *              same prompt ids)
 *   copy       the synthetic copy (induction) model (engine/synth.h, copy
 *              mode, seed 14, context 4096): a few MB, cache-resident
 *   copy134m   the same function with FFN ballast (synth.h) making it as
 *              large as llama134m: decode is memory-bound, as on real
 *              models (the spec-decode preset's speed target)
 * Weights from model_random (synth_build for the synthetic ones) with seed
 * BENCH_MODEL_SEED, written F32 by the
 * project's GGUF writer, then converted from that F32 file to F16 (round to
 * nearest even) and Q8_0 (dtype_quantize_row_q8_0_ref, bit-exact with
 * ggml's quantizer); 1-D tensors (norms) stay F32, as llama.cpp's quantizer
 * leaves them.
 *
 * File names: DIR/bench-<name>-s14-<type>.gguf (type f32, f16, q8_0). DIR
 * is the caller's: this library reads no environment; the programs pass
 * their cache folder's BENCH_MODEL_SUBDIR (for bin/kakeya and `make bench`
 * ${KAKEYA_CACHE:-$HOME/.cache/kakeya}/bench-models). Files
 * already on disk are reused as they are, never rewritten; new ones are
 * written whole (temporary file, fsync, rename: kk_file_write_atomic), so
 * two processes generating at once leave one complete file.
 *
 * Ownership: nothing is allocated that outlives a call; paths go into the
 * caller's buffers.
 */
#ifndef KK_BENCH_MODEL_H
#define KK_BENCH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"
#include "dtype.h"
#include "model_random.h"
#include "synth.h"

#define BENCH_MODEL_SEED 14
/* The default model of `make bench` and the engine-bench preset. */
#define BENCH_MODEL_DEFAULT "llama134m"

/* The bench models' folder under a cache folder: CACHE/bench-models. */
#define BENCH_MODEL_SUBDIR "bench-models"

/* The shape of a named bench model (above); KK_E_RANGE naming the allowed
 * names otherwise. */
kk_code bench_model_shape(const char *name, model_random_cfg *c, kk_err *err);

/* 1 for the synthetic names (copy, copy134m), whose shape is a synth_cfg. */
int bench_model_is_synth(const char *name);
kk_code bench_model_synth_shape(const char *name, synth_cfg *c, kk_err *err);

/* "f32", "f16", "q8_0" <-> DTYPE_F32, DTYPE_F16, DTYPE_Q8_0; parse returns
 * KK_E_RANGE for anything else. */
kk_code bench_model_type_parse(const char *s, dtype_t *out, kk_err *err);

/* DIR/bench-<name>-s14-<type>.gguf into buf. KK_E_RANGE for an unknown
 * name or type, or a path that does not fit. */
kk_code bench_model_path(char *buf, size_t cap, const char *dir, const char *name,
                         dtype_t type, kk_err *err);

/* The path of model `name` in `type` (as bench_model_path), writing it
 * first when absent: the F32 file from the seed, other types converted from
 * the F32 file (written first if needed). DIR is created if missing.
 * *written (may be NULL) is set to 1 when this call wrote a file. */
kk_code bench_model_ensure(const char *dir, const char *name, dtype_t type, char *path,
                           size_t cap, int *written, kk_err *err);

/* The benchmark prompt: n ids from a 64-bit LCG seeded with
 * BENCH_MODEL_SEED, each in 259 .. n_vocab-1 (past the control and byte
 * tokens): the ids bench/bench_engine.c gives both engines. n_vocab must be
 * above 259. */
void bench_model_prompt(int32_t *ids, int n, int32_t n_vocab);

#endif /* KK_BENCH_MODEL_H */
