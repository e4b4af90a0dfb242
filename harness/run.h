/*
 * run: the run loop of `kakeya run`. A kind plans a list of tasks (one NIAH
 * sample of one arm, say); `jobs` workers take them in any order and each
 * writes its run_result into the task's own slot; the evidence is built
 * from the slots in task order. So `metrics` never depend on --jobs.
 *
 * Determinism: a task's seed comes from the run seed and what the task is
 * (context, depth index, sample index), never from the worker or the order;
 * arms share the seed of the same sample, so arms see the same haystacks
 * (paired comparisons). BLAS runs one thread per worker (`threads` is
 * recorded; OpenBLAS reductions could otherwise depend on the split).
 *
 * Sharding (--shard I/N) splits by arm: shard I runs the arms whose index
 * modulo N is I-1, so a merged file (run_merge.c) holds exactly the arms,
 * metrics and samples of an unsharded run.
 *
 * Lifecycle of a run_ctx: run_ctx_init (the preset is borrowed and must
 * outlive it), run_execute (prepare, workers, evidence), run_ctx_free.
 */
#ifndef KK_RUN_H
#define KK_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kind.h"
#include "kk_err.h"
#include "preset.h"

typedef struct run_task {
    size_t arm;          /* index into the preset's arms */
    size_t sample;       /* index within the arm (evidence order) */
    int64_t ctx;
    int32_t depth_index;
    double depth;
    int64_t index;       /* sample index within its (ctx, depth) cell */
    uint64_t seed;       /* from the run seed, ctx, depth index and index */
} run_task;

#define RUN_FALLBACK_MAX 128

/* What one task measured; kinds fill what they run. */
typedef struct run_result {
    int done;
    int hit;
    double margin;
    int32_t answer, expected;
    double prefill_s, decode_s;     /* wall clock */
    int64_t tokens_decoded;
    int has_codec;                  /* the codec ran: counters below */
    uint64_t values_encoded, values_decoded;
    int has_kv_err;                 /* sums for rel_mse on captured K/V */
    double k_err, k_ref, v_err, v_ref;
    uint64_t kv_bytes;              /* the cache's allocation for this sample */
    char fallback[RUN_FALLBACK_MAX];/* "" when nothing degraded */
} run_result;

typedef struct run_opts {
    int jobs;                 /* workers >= 1 */
    int threads;              /* compute threads per worker (ops_set_threads) */
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
    run_result *results;      /* one per task */
    unsigned char *arm_on;    /* arms of this shard */
    cJSON *models;            /* [{role, source, sha256, architecture}] from prepare */
    void *kstate;             /* the kind's shared, read-only-while-running state */
    double wall_s;
} run_ctx;

typedef struct run_ops {
    /* Load models, add tasks (run_add_task) for the arms that are on,
     * fill rc->models. */
    kk_code (*prepare)(run_ctx *rc, kk_err *err);
    kk_code (*worker_init)(run_ctx *rc, void **w, kk_err *err);
    void (*worker_free)(void *w);
    kk_code (*task)(run_ctx *rc, void *w, const run_task *t, run_result *r, kk_err *err);
    /* Add the kind's own numbers to an arm's evidence (metrics computed
     * once per arm, e.g. the codec on Gaussian data). May be NULL. */
    kk_code (*arm_extra)(run_ctx *rc, size_t arm, cJSON *arm_json, kk_err *err);
    void (*finish)(run_ctx *rc);
    /* What the task's clock includes (evidence timings.scope: phases
     * joined by '+', e.g. "prefill", "prefill+decode"), and one sentence
     * saying exactly what is inside and outside it (timings.scope_note). */
    const char *timing_scope;
    const char *timing_scope_note;
} run_ops;

kk_code run_ctx_init(run_ctx *rc, const preset *p, const run_opts *o, kk_err *err);
void run_ctx_free(run_ctx *rc);

/* For prepare: append a task; the seed is filled by the caller. */
kk_code run_add_task(run_ctx *rc, const run_task *t, kk_err *err);

/* Prepare, run every task on o.jobs workers, and build the evidence
 * document (*doc, caller frees with cJSON_Delete). KK_E_CHECK... no:
 * errors are the first task's error; an interrupted run returns
 * KK_E_INTERNAL with msg "interrupted" and no document. */
kk_code run_execute(run_ctx *rc, cJSON **doc, kk_err *err);

/* 1 when arm a runs in this shard. */
int run_arm_on(const run_ctx *rc, size_t a);

#endif /* KK_RUN_H */
