/*
 * kk_fault: run-time fault injection, for the tests that prove the evidence
 * rules bite (a codec switched off at run time: LIVENESS fires on the
 * evidence the harness wrote).
 *
 * A fault is switched on only by the environment variable KAKEYA_FAULT, a
 * comma-separated list of fault names:
 *
 *   KAKEYA_FAULT=codec-passthrough bin/kakeya run smoke --out /tmp/ev
 *
 * Never by a flag, a preset or a --set, so no committed file can turn one
 * on. Code that may read the environment (common/, harness/) asks
 * kk_fault_on(); the engine reads none, so the harness passes an engine
 * fault down as a parameter (codec-passthrough: kv_codec_opts.passthrough).
 * The component that degrades says nothing about it (that is the failure
 * being simulated); the harness, separately,
 *   - refuses a KAKEYA_FAULT naming an unknown fault (kk_fault_check: a
 *     typo must not run a clean-looking test),
 *   - records the active faults in the evidence's provenance.faults_injected,
 *   - refuses to write such evidence into the repository's evidence/ folder,
 * and the gate rejects evidence whose faults_injected is not empty
 * (FAULT_INJECTED, not relaxable). docs/harness.md, "Fault injection".
 *
 * The faults (name: what the component does instead):
 *   codec-passthrough  kv_codec caches the harness makes store every K/V
 *                      row as F32 bytes, without encoding, decoding or
 *                      counting (the codecs' values_encoded/values_decoded
 *                      stay 0)
 *   fsync              kk_file_write_atomic's fsync fails (EIO): the
 *                      write is an error, the temporary file is removed
 *                      and its descriptor closed
 *   evidence-alloc[:N] the Nth member added while building an evidence
 *                      document (harness/evidence.c; N >= 1, alone: 1)
 *                      fails as if cJSON ran out of memory
 *   run-alloc[:N]      the Nth allocation made through run_calloc /
 *                      run_realloc (harness/run.h: the run loop and the
 *                      kinds) fails as out of memory
 *   thread-start[:N]   the Nth worker thread the run loop starts fails to
 *                      start (as pthread_create returning EAGAIN)
 *   sigterm-after-rename ev_write (harness/evidence.c) raises SIGTERM right
 *                      after the evidence file got its name, while SIGINT
 *                      and SIGTERM are held: the signal lands in the window
 *                      between a complete file and the end of the run
 *
 * A fault marked [:N] is counted: KAKEYA_FAULT=evidence-alloc:3 picks the
 * third occurrence (kk_fault_nth); the component counts its own
 * occurrences (per document, per run: its header says).
 *
 * Everything here reads the environment at the call (getenv); nothing is
 * cached and nothing is allocated. Thread-safe as long as nobody calls
 * setenv concurrently (the programs never do).
 */
#ifndef KK_FAULT_H
#define KK_FAULT_H

#include <stddef.h>

#include "kk_err.h"

#define KK_FAULT_ENV "KAKEYA_FAULT"
#define KK_FAULT_CODEC_PASSTHROUGH "codec-passthrough"
#define KK_FAULT_FSYNC "fsync"
#define KK_FAULT_EVIDENCE_ALLOC "evidence-alloc"
#define KK_FAULT_RUN_ALLOC "run-alloc"
#define KK_FAULT_THREAD_START "thread-start"
#define KK_FAULT_SIGTERM_AFTER_RENAME "sigterm-after-rename"

/* Known faults, in table order; NULL past the end. */
size_t kk_fault_count(void);
const char *kk_fault_name(size_t i);
/* One line: what the component does under fault i. */
const char *kk_fault_what(size_t i);

/* 1 when KAKEYA_FAULT lists `name` (an exact, comma-separated item; for a
 * counted fault also `name:N`). */
int kk_fault_on(const char *name);
/* Which occurrence a counted fault hits: N for an item `name:N`, 1 for
 * `name` alone; 0 when the fault is off (or `name` is not counted and only
 * `name:N` is listed). */
long kk_fault_nth(const char *name);

/* KK_OK when KAKEYA_FAULT is unset, empty, or lists only known faults
 * (`name:N`, N 1..1e9, only for counted ones);
 * else KK_E_RANGE naming the item found and the allowed names, where =
 * "KAKEYA_FAULT". */
kk_code kk_fault_check(kk_err *err);

/* How many known faults are on (0 when none). */
size_t kk_fault_active_count(void);

#endif /* KK_FAULT_H */
