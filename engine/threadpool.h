/*
 * tp: a persistent pool of worker threads for the matrix products.
 *
 * A decode step of a 12-layer model issues about 85 products of a few
 * hundred microseconds each, so handing work to threads must cost far less
 * than a futex wake-up (tens of microseconds): workers spin on a generation
 * counter for a while after each job (TP_SPIN_ITERS) and only then sleep on
 * a condition variable. Tasks are handed out by an atomic counter, so a
 * thread slowed by another process on the shared cores takes fewer of them.
 *
 * tp_run(pool, fn, ctx, n_tasks) calls fn(ctx, task, thread) once for each
 * task in [0, n_tasks), on the caller (thread 0) and the workers (1..n-1),
 * and returns when all are done. Nothing is allocated after tp_init.
 *
 * Concurrency: one tp_run at a time per pool. A second caller that finds the
 * pool busy (another thread is inside tp_run) runs its tasks alone on its
 * own thread instead of waiting (thread index 0): several forward states in
 * different threads stay correct, only not parallel.
 *
 * Lifecycle: tp_init -> tp_run as often as needed -> tp_free (accepts NULL;
 * joins the workers).
 */
#ifndef KK_THREADPOOL_H
#define KK_THREADPOOL_H

#include <stdint.h>

#include "kk_err.h"

/* Most threads a pool may have (the engine runs on a few cores). */
#define TP_MAX_THREADS 64

typedef struct tp_pool tp_pool;

/* thread: 0 for the caller, 1..n_threads-1 for the workers; a task may use
 * per-thread scratch indexed by it. */
typedef void (*tp_fn)(void *ctx, int64_t task, int thread);

/* n_threads in 1..TP_MAX_THREADS (1: no worker, tp_run runs inline).
 * @return KK_OK, KK_E_RANGE, KK_E_NOMEM or KK_E_INTERNAL (thread creation). */
kk_code tp_init(tp_pool **out, int n_threads, kk_err *err);
void tp_free(tp_pool *p);

int tp_n_threads(const tp_pool *p);

/* Run fn for every task in [0, n_tasks); returns when all have finished.
 * p may be NULL (runs inline). */
void tp_run(tp_pool *p, tp_fn fn, void *ctx, int64_t n_tasks);

#endif /* KK_THREADPOOL_H */
