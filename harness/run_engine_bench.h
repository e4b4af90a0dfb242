/*
 * run_engine_bench: the runner of kind engine_bench (docs/harness.md,
 * "The engine_bench kind"): kakeya against llama.cpp on the same generated
 * GGUF files (bench/lib/bench_model.h), with bench/bench_engine.c's protocol.
 *
 * An arm is one (engine, weight type, threads[, isa]) cell. A task is one
 * fresh-process measurement of an arm: load, prefill RUN_EB_PROMPT fixed
 * ids (bench_model_prompt), decode RUN_EB_DECODE greedy tokens, then for
 * L = 2, 4, 8, 16 the median of 3 verifications of L tokens after the
 * prefix. kakeya: a fork()ed child runs the engine library and writes its
 * numbers to a pipe; llama.cpp: fork+exec of
 * <repo root>/build/bench/llamacpp_bench FILE THREADS bench IDS. Peak RSS
 * of both from wait4's rusage. Tasks run one at a time (the runner sets
 * --jobs to 1: two timed processes on 2 cores would measure each other),
 * repeats interleaved: repeat r runs the arms of one (type, threads) cell
 * one after another, the first of them rotating with r.
 *
 * Ownership: static tables and functions; run_engine_bench_driver writes
 * into the caller's buffer.
 */
#ifndef KK_RUN_ENGINE_BENCH_H
#define KK_RUN_ENGINE_BENCH_H

#include <stddef.h>

#include "kind.h"
#include "run.h"

#include "bench_measure.h"

#define RUN_EB_PROMPT 256
#define RUN_EB_DECODE BENCH_MEASURE_DECODE           /* bench/lib/bench_measure.h */
#define RUN_EB_VERIFY_REPS BENCH_MEASURE_VERIFY_REPS
#define RUN_EB_N_VERIFY BENCH_MEASURE_N_VERIFY /* L = 2, 4, 8, 16 */

extern const run_ops run_engine_bench_ops;

/* The llama.cpp driver under repository root `root` into path:
 * <root>/build/bench/llamacpp_bench. KK_E_MISSING when it is not an
 * executable file, with a message naming the path and how to build it. */
kk_code run_engine_bench_driver(const char *root, char *path, size_t cap, kk_err *err);

/* Kind check: the model source is a bench model spec (bench:llama134m or
 * bench:tiny) and no llama.cpp arm asks for `isa: scalar`. */
kk_code run_engine_bench_check(const preset *p, kk_err *err);

#endif /* KK_RUN_ENGINE_BENCH_H */
