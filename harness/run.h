/*
 * run: the run loop of `kakeya run`, shared by every kind. The loop owns
 * what every kind does alike; a kind (kind.h) owns what its numbers mean.
 *
 *   the loop                          the kind's run_ops
 *   --------                          ------------------
 *   shard selection, the run seed     prepare: load models, plan tasks
 *                                       (run_add_task), fill rc->models
 *   one result slot per task          task: run task i on a worker, fill
 *   workers (--jobs), progress,         slot i (ops->result_size bytes)
 *     interruption
 *   each arm's skeleton: name,        arm_evidence: the arm's `metrics`,
 *     config, config_sha256             `timings`, `signals`, `samples`
 *   provenance, summary, document     finish: free the kind's state
 *
 * Determinism: a task's seed comes from the run seed and what the task is,
 * never from the worker or the order; each task writes only its own slot
 * and the evidence is built from the slots in task order, so `metrics`
 * never depend on --jobs. BLAS runs one thread per worker (`threads` is
 * recorded; OpenBLAS reductions could otherwise depend on the split).
 *
 * Sharding (--shard I/N) splits by arm: shard I runs the arms whose index
 * modulo N is I-1, so a merged file (run_merge.c) holds exactly the arms,
 * metrics and samples of an unsharded run.
 *
 * Adding a kind: one file harness/kind_<name>.c with its kind_def and
 * run_ops, and one line in kind_table.c; nothing here changes.
 *
 * Lifecycle of a run_ctx: run_ctx_init (the preset is borrowed and must
 * outlive it), run_execute (prepare, workers, evidence), run_ctx_free.
 * The kind's state (rc->kstate) belongs to the kind: finish frees it.
 */
#ifndef KK_RUN_H
#define KK_RUN_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "evidence.h"
#include "kind.h"
#include "kk_err.h"
#include "preset.h"

typedef struct run_task {
    size_t arm;          /* index into the preset's arms */
    size_t sample;       /* index within the arm (evidence order) */
    uint64_t seed;       /* derived by the kind from the run seed and what
                            the task is */
} run_task;

/* --jobs: at most this many workers. */
#define RUN_MAX_JOBS 256

typedef struct run_opts {
    int jobs;                 /* workers >= 1 */
    int threads;              /* compute threads (ops_set_threads) */
    uint64_t seed;
    int seed_set;             /* --seed given: overrides the `seed` parameter */
    int shard_i, shard_n;     /* 1-based; shard_n 0: no sharding */
    int progress;             /* 0 off, 1 on (stderr) */
    volatile sig_atomic_t *stop; /* set by a signal handler: stop early */
} run_opts;

typedef struct run_ctx {
    const preset *p;
    run_opts o;
    uint64_t seed;            /* the run seed used */
    run_task *tasks;
    size_t n_tasks, cap_tasks;
    unsigned char *plans;     /* n_tasks entries of ops->plan_size bytes */
    unsigned char *results;   /* n_tasks slots of ops->result_size bytes, zeroed */
    unsigned char *arm_on;    /* arms of this shard */
    cJSON *models;            /* [{role, source, sha256, architecture}] from prepare */
    void *kstate;             /* the kind's state: written by prepare, read-only
                                 while tasks run, freed by finish */
    ev_gpu gpu;               /* the GPU a GPU kind's prepare found (provenance.gpu);
                                 gpu.name "" for the CPU kinds */
    double wall_s;
    int jobs_started;         /* workers that started (<= o.jobs) */
    long alloc_fail_at;       /* the run-alloc fault's N (0: never) */
    _Atomic long n_allocs;    /* allocations made through run_calloc/_realloc */
} run_ctx;

typedef struct run_ops {
    /* Load models, add tasks (run_add_task) for the arms that are on,
     * fill rc->models. */
    kk_code (*prepare)(run_ctx *rc, kk_err *err);
    /* Bytes of what a task is beyond run_task (the kind's own struct, kept
     * by the loop beside the task: run_plan_at); 0: nothing. */
    size_t plan_size;
    /* Bytes of one task's result slot (the kind's own struct). */
    size_t result_size;
    /* Per-worker state (NULL: none). */
    kk_code (*worker_init)(run_ctx *rc, void **w, kk_err *err);
    void (*worker_free)(void *w);
    /* Run task i, writing only its slot (run_result_at(rc, i)). */
    kk_code (*task)(run_ctx *rc, void *w, size_t i, kk_err *err);
    /* Add to the arm's object `a` (which holds name, config and
     * config_sha256) its "metrics", "timings", "signals" and "samples", in
     * that order, through b (evidence.h: every member checked; the loop
     * ends the build), from the slots of its tasks. */
    kk_code (*arm_evidence)(run_ctx *rc, size_t arm, ev_build *b, cJSON *a, kk_err *err);
    /* Free the kind's state (called once, after success or failure). */
    void (*finish)(run_ctx *rc);
} run_ops;

kk_code run_ctx_init(run_ctx *rc, const preset *p, const run_opts *o, kk_err *err);
void run_ctx_free(run_ctx *rc);

/* For prepare: append a task (its seed filled by the caller) and what it
 * is (plan: ops->plan_size bytes, copied; NULL when plan_size is 0). */
kk_code run_add_task(run_ctx *rc, const run_task *t, const void *plan, kk_err *err);

/* What task i is (ops->plan_size bytes), as given to run_add_task. */
const void *run_plan_at(const run_ctx *rc, size_t i);

/* calloc / realloc for the run loop and the kinds: the same, except that
 * the run-alloc[:N] fault (kk_fault.h) makes the Nth call of the run fail
 * (NULL), so tests reach every out-of-memory path. Thread-safe. Free the
 * result with free(). */
void *run_calloc(run_ctx *rc, size_t n, size_t size);
void *run_realloc(run_ctx *rc, void *p, size_t n, size_t size);

/* The result slot of task i (ops->result_size bytes). */
void *run_result_at(const run_ctx *rc, size_t i);

/* For arm_evidence: how many tasks arm a has. */
size_t run_arm_n_tasks(const run_ctx *rc, size_t arm);

/* Prepare, run every task on o.jobs workers, and build the evidence
 * document (*doc, caller frees with cJSON_Delete). Errors: the first
 * task's error; an interrupted run returns KK_E_INTERNAL with msg
 * "interrupted" and no document. */
kk_code run_execute(run_ctx *rc, cJSON **doc, kk_err *err);

/* 1 when arm a runs in this shard. */
int run_arm_on(const run_ctx *rc, size_t a);

#endif /* KK_RUN_H */
