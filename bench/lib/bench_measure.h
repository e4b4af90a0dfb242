/*
 * bench_measure: kakeya's side of one benchmark measurement, the protocol
 * `make bench` (bench/bench_engine.c) and the engine-bench preset
 * (harness/run_engine_bench.c) both time, written once:
 *   load      gguf_open + model_load (the map faulted in) + the K/V cache
 *             (F16 or F32, BENCH_MEASURE_CTX positions) + the forward state;
 *   prefill   the n_ids prompt ids in one call, logits of the last;
 *   decode    BENCH_MEASURE_DECODE greedy tokens, one call each;
 *   verify    for L = 2, 4, 8, 16: the cache truncated back to the prompt,
 *             L prompt ids (ids[1..L]) run with logits for all L (what a
 *             speculative verifier does); the median of
 *             BENCH_MEASURE_VERIFY_REPS runs.
 * llama.cpp's side (bench/llamacpp_bench.c) follows the same steps.
 * Activations are rounded as llama.cpp's (OPS_ACT_GGML). The caller sets
 * threads and the SIMD level first (ops_set_threads, matmul_set_isa).
 *
 * Ownership: everything is allocated and freed inside the call.
 */
#ifndef KK_BENCH_MEASURE_H
#define KK_BENCH_MEASURE_H

#include <stdbool.h>
#include <stdint.h>

#include "kk_err.h"

#define BENCH_MEASURE_CTX 512
#define BENCH_MEASURE_DECODE 64
#define BENCH_MEASURE_VERIFY_REPS 3
#define BENCH_MEASURE_N_VERIFY 4 /* L = 2, 4, 8, 16 */

typedef struct bench_measure_result {
    double load_s, prefill_s, decode_s;
    double verify_s[BENCH_MEASURE_N_VERIFY]; /* L = 2 << i */
} bench_measure_result;

/* Measure `file` on ids[0..n_ids) (n_ids + BENCH_MEASURE_DECODE <=
 * BENCH_MEASURE_CTX, n_ids > 16). kv_f16: kv_full_f16 (llama.cpp's cache
 * type) instead of kv_full. On failure, *what (may be NULL) names the step
 * ("load", "init", "prefill", "decode", "verify") and err says why. */
kk_code bench_measure_run(const char *file, const int32_t *ids, int n_ids, bool kv_f16,
                          bench_measure_result *out, const char **what, kk_err *err);
/* The same with the verification runs in batch-invariant mode when
 * invariant (forward.h fwd_set_batch_invariant: what a speculative
 * decoder's verification costs). */
kk_code bench_measure_run_mode(const char *file, const int32_t *ids, int n_ids, bool kv_f16,
                               bool invariant, bench_measure_result *out, const char **what,
                               kk_err *err);

#endif /* KK_BENCH_MEASURE_H */
